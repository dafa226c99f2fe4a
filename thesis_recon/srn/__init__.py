"""Semantic scene representation networks: data, SRN model, semantic head, test-time fitting, rendering."""

def __getattr__(name):
    # `thesis_recon.srn.render_like_original` without importing torch for the rest of the package
    if name == 'render_like_original':
        from .evaluate import render_like_original
        return render_like_original
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
