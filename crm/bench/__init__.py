"""The benchmarks' code: ``manage.py bench_scoring`` and ``bench_ingest``.

``synthetic`` generates the data every measurement runs on (also the
reliability harness's): leads, accounts and touchpoints written straight to
the database, API users, lead pools and touchpoint payloads for the API.
``scoring`` and ``ingest`` are the two benchmarks; ``stats`` and ``procs``
the percentile, memory and process helpers they (and the harness) share.
``suggestion`` builds its own HubSpot-style export instead and measures the
suggested points on it through the import path.
"""
