from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path

from leadfollow.intake_views import ContactFormView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("leads/", include("leadfollow.urls")),
    path("api/", include("leadfollow.api.urls")),
    path("contact/", ContactFormView.as_view(source="web"), name="contact"),
    # A page of the host site, for the tracking middleware's tests.
    path("pricing/", lambda request: HttpResponse("<h1>Pricing</h1>"), name="pricing"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="leadfollow/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
