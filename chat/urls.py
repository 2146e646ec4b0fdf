from django.urls import path

from chat import views

app_name = "chat"
urlpatterns = [
    path("chat/", views.chat_page, name="chat"),
    path("traces/", views.trace_list, name="traces"),
    path("traces/<uuid:trace_id>/", views.trace_detail, name="trace"),
]
