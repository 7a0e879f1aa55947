"""The overlay engine behind apply.py: pin upstream, apply the patch series, check, export.

Each module has one job:
    lock      read and validate upstream.lock
    series    read and validate an overlay's series of patches, write it back
    source    where the pinned commit comes from (URL, bare mirror, working clone)
    buildtree the build tree: guards against lost work, recorded state, pin checkout
    patches   apply the series as commits, all or nothing
    check     read-only comparison of a tree against pin + series
    export    the branch's commits as format-patch files
    releases  the release record: which pin + series is drop-in wheel +npu.<N>
    wheel     the built tree as a drop-in wheel (upstream's own build files, offline)
"""
