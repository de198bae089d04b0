from vitals_alerter.cli import main

raise SystemExit(main())
