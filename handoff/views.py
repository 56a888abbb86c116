"""Placeholder: the SAL queue screens are being written."""

from django.http import HttpResponse


def _todo(request, **kwargs):
    return HttpResponse("coming", status=501)


queue = queue_rows = handoff_detail = accept = reject = attempt_add = _todo
availability = pipeline = sales_move = _todo
