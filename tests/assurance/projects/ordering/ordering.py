def order(items):
    if not items:
        return []
    return sorted(items)
