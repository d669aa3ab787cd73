from inlet.cli.app import main

main()
