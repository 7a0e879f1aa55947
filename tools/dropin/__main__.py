import sys

from tools.dropin.compare import main

sys.exit(main())
