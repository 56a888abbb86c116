"""The project API: token login, scored leads, privacy requests and the v1 URLs."""
