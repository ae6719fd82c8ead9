c = get_config()  # noqa: F821  (nbgrader's config loader provides it; see autograders/nbgrader_config.py)
load_subconfig("autograders/nbgrader_config.py")  # noqa: F821
