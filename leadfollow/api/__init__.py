"""The REST API: intake for web forms and ad platforms, reads and writes for integrations.

Mount it with ``path("api/", include("leadfollow.api.urls"))``.
"""
