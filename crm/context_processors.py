def navigation(request):\n    return {}
