import sys

from vitals_notifier.cli import main

sys.exit(main())
