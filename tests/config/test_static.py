from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_succeeds_with_the_production_storage(tmp_path, settings):
    # `make run` collects static files with DEBUG off; a vendored file that references a
    # missing source map once broke it.
    storages = {**settings.STORAGES, "staticfiles": {"BACKEND": "config.storage.StaticStorage"}}
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    assert (tmp_path / "staticfiles.json").exists()
    assert list(tmp_path.glob("vendor/cytoscape-dagre-*/cytoscape-dagre.min.*.js"))
