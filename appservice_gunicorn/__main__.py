from appservice_gunicorn.boot import main

main()
