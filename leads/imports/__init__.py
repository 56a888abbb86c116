"""CSV import of leads and touchpoints (HubSpot, Salesforce and Leadflow files).

- ``presets``: the target fields, the column presets and the word tables
  (lifecycle stages, sources, industries, countries) that turn another CRM's
  values into ours. Pure data and pure functions.
- ``reading``: decode a file, find its header, yield its records with line
  numbers. File-level problems raise ``leads.exceptions.ImportFileError``.
- ``values``: read one cell (numbers, yes/no, dates, countries, domains,
  money) or say why it cannot be read. Pure functions.
- ``rows``: validate one record against the mapping and return clean values,
  or the reason it is rejected. Pure functions.
- ``jobs``: upload, start, create, queue again and fail jobs before they run.
- ``run``: run a job chunk by chunk; ``chunks`` what a run and a chunk carry;
  ``lead_chunks`` and ``touchpoint_chunks`` classify and store one chunk.
- ``selectors``: the reads that feed the import pages.
- ``forms``: the upload and mapping forms of the browser pages.
"""
