from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from leadfollow.intake_views import ContactFormView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("leads/", include("leadfollow.urls")),
    path("api/", include("leadfollow.api.urls")),
    path("contact/", ContactFormView.as_view(source="web"), name="contact"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="leadfollow/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", RedirectView.as_view(pattern_name="leadfollow:queue", permanent=False)),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("leadfollow/favicon.svg"))),
]
