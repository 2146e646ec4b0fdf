"""Static files with content hashes in their names, compressed, cached for a year (whitenoise).

``collectstatic`` (``make run`` and the container start run it) writes each file under a name with its
hash, plus gzip and brotli copies; whitenoise then answers those names with
``Cache-Control: max-age=31536000, immutable`` and the compressed body the browser accepts. Where
nothing was collected (the test suite serves from the finders), templates get the plain names instead
of failing on a missing manifest.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class ConsoleStaticStorage(CompressedManifestStaticFilesStorage):
    def stored_name(self, name: str) -> str:
        if not self.hashed_files:  # no manifest: nothing was collected, the finders serve plain names
            return name
        return super().stored_name(name)
