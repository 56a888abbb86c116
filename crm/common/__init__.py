"""What several apps share and none of them owns: the bottom of the layers.

``crm.common`` imports no app: not ``leads``, ``scoring`` or ``handoff``,
and no other ``crm`` module; only Django, the libraries and itself. Every
app may import it. Code lands here only when more than one app needs it and
it belongs to no app's domain:

- ``keyset``: cursor pagination for the lead list and the API's lists;
- ``strict_json``: client JSON read strictly (400, never 500);
- ``text``: text PostgreSQL can store, and the API fields that check it;
- ``percentiles``: PostgreSQL's ``percentile_cont``, as an aggregate and in
  Python;
- ``tasks``: the retry options of the Celery tasks;
- ``roles``: the names of the four roles (groups).
"""
