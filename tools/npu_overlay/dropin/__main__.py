import sys

from npu_overlay.dropin.compare import main

sys.exit(main())
