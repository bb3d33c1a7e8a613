from cxops.cli import main

main()
