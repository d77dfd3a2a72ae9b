"""Rep-facing pages. Include them in a site: ``path("leads/", include("leadfollow.urls"))``."""

from django.urls import path

from leadfollow import views

app_name = "leadfollow"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("live/", views.live, name="live"),
    path("pause/", views.pause, name="pause"),
    path("resume/", views.resume, name="resume"),
    path("<int:pk>/", views.lead_detail, name="lead"),
    path("<int:pk>/attempts/", views.log_attempt, name="log_attempt"),
    path("<int:pk>/status/", views.set_status, name="set_status"),
    path("<int:pk>/follow-up/", views.schedule_follow_up, name="schedule_follow_up"),
    path("<int:pk>/hand-back/", views.hand_back, name="hand_back"),
]
