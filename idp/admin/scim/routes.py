def install(api):
    pass
