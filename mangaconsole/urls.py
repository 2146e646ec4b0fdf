from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from mangaconsole import views
from mangaconsole.access import public_view
from mangaconsole.roles import Role

admin.site.site_header = "MangaAssist Console"
admin.site.site_title = "MangaAssist Console"
admin.site.index_title = "Administration"

urlpatterns = [
    path("", views.home, name="home"),
    *[path(f"home/{role}/", views.landing_view_for(role), name=f"landing_{role}") for role in Role.ALL],
    path("accounts/login/", public_view(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", public_view(auth_views.LogoutView.as_view()), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    # browsers ask for /favicon.ico on pages without an icon link (the admin's): the console's icon
    path("favicon.ico", views.favicon, name="favicon"),
    path("audit/", include("audit.urls")),
    path("", include("chat.urls")),
    path("", include("guardrails.urls")),
    path("", include("prompts_app.urls")),
    path("", include("evaluation.urls")),
    path("", include("registry.urls")),
    path("", include("experiments.urls")),
    path("api/audit/", include("audit.api_urls")),
    path("api/eval/", include("evaluation.api_urls")),
    path("api/events/", include("experiments.api_urls")),
    path("api/schema/", views.api_schema, name="api_schema"),
    path("admin/", admin.site.urls),
]
