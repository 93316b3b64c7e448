# The nav texts (English); ids shared with ../zh-CN/nav.ftl.

nav-my-code = My code
nav-dashboard = Dashboard
nav-ranking = Ranking
nav-appeals = Appeals
nav-assistance = Assistance
nav-passes = Passes
nav-messages = Messages
nav-resumption = Resumption
nav-responsibilities = Responsibilities
nav-supplies = Supplies
nav-quarterly = Quarterly
nav-bulletin = Bulletin
