import sys

from tools.pipeline.run import main

sys.exit(main())
