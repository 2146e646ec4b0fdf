"""ASGI entry point: HTTP through Django; WebSocket routes are added by the chat app."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mangaconsole.settings")
django_asgi_app = get_asgi_application()  # before importing anything that touches models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402


def _warm_up() -> None:
    import logging

    from chat.turn import warm_up  # deferred: loads the models (torch) in the warm-up thread

    try:
        warm_up()
    except Exception:  # a cold first turn is slower, not broken
        logging.getLogger(__name__).exception("chat warm-up failed")


if os.environ.get("CHAT_WARM_UP", "1") == "1":
    import threading

    threading.Thread(target=_warm_up, name="chat-warm-up", daemon=True).start()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
