from vitals_stack.cli import main

raise SystemExit(main())
