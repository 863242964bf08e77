"""django-prometheus's database backends, minus a class built for every cursor.

django-prometheus wraps each cursor in a class it defines anew on every call:
about a tenth of a consumer's CPU once the hot paths stopped composing ORM
queries. These backends build that class once per connection and keep every
django_db_* metric as it was.
"""
