from django.urls import path

from audit import api

urlpatterns = [
    path("entries/", api.AuditEntryList.as_view(), name="api_audit_entries"),
    path("verify/", api.AuditChainVerify.as_view(), name="api_audit_verify"),
]
