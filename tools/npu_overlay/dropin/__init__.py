"""The drop-in wheel against upstream's published `paddleocr`, each installed in a fresh venv.

    compare     orchestration and CLI (python -m npu_overlay.dropin)
    probe       runs inside each venv: API, CLI flags, PPStructure tables
    wheelfiles  the two wheels' files, each difference traced to its cause
    report      verdicts and the markdown report
"""
