from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Whitenoise's compressed, hashed static files, rewriting CSS references only.

    The vendored libraries under static/vendor/ are unmodified copies: they keep their
    sourceMappingURL comments but ship no source maps, which Django's JS pattern would require.
    """

    patterns = tuple(
        (glob, rules)
        for glob, rules in CompressedManifestStaticFilesStorage.patterns
        if glob == "*.css"
    )
