import sys

from npu_overlay.pipeline.run import main

sys.exit(main())
