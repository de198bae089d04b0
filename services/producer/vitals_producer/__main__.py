import sys

from vitals_producer.cli import main

sys.exit(main())
