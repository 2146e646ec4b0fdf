"""Static files: the charts load plotly.js's cartesian bundle (1.5 MB, not the full 4.8 MB), and after
`collectstatic` whitenoise serves it under a hashed name, compressed, cached for a year."""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import RequestFactory, override_settings

BUNDLE = "vendor/plotly-cartesian-4.1.1.min.js"


def test_the_chart_pages_load_the_small_bundle():
    path = settings.BASE_DIR / "mangaconsole" / "static" / BUNDLE
    assert 1_000_000 < path.stat().st_size < 2_000_000
    templates = [p for p in settings.BASE_DIR.rglob("*.html") if ".venv" not in p.parts and "var" not in p.parts]
    uses = [p for p in templates if "plotly" in p.read_text()]
    assert len(uses) >= 8
    assert all(BUNDLE in p.read_text() for p in uses), [str(p) for p in uses if BUNDLE not in p.read_text()]


def test_collected_files_are_hashed_compressed_and_cached_for_a_year(tmp_path):
    root = tmp_path / "static"
    with override_settings(STATIC_ROOT=root, WHITENOISE_USE_FINDERS=False):
        call_command("collectstatic", "--noinput", "-v0")
        from django.contrib.staticfiles.storage import staticfiles_storage

        staticfiles_storage._setup()  # the storage object reads its manifest from the new root
        staticfiles_storage._wrapped.__init__()
        url = staticfiles_storage.url(BUNDLE)
        assert url.startswith("/static/vendor/plotly-cartesian-4.1.1.min.")  # a content hash in the name
        assert url != f"/static/{BUNDLE}"
        name = url.removeprefix(settings.STATIC_URL.rstrip("/") + "/").lstrip("/")
        assert (root / f"{name}.br").exists()
        assert (root / f"{name}.gz").exists()
        assert (root / f"{name}.br").stat().st_size < 600_000

        from whitenoise.middleware import WhiteNoiseMiddleware

        app = WhiteNoiseMiddleware(get_response=lambda request: None)
        response = app(RequestFactory().get(url, HTTP_ACCEPT_ENCODING="gzip, br"))
        assert response.status_code == 200
        assert response["Content-Encoding"] == "br"
        assert "max-age=31536000" in response["Cache-Control"]
        assert "immutable" in response["Cache-Control"]
    # Leaving override_settings resets the lazy storage (Django's setting_changed handler), so the next
    # user builds it again on the suite's root; replacing it by hand here once broke later imports.
    from django.utils.functional import empty

    assert staticfiles_storage._wrapped is empty
    assert Path(settings.STATIC_ROOT) != root
    assert not staticfiles_storage.location.startswith(str(root))
