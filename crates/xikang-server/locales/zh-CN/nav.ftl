# The nav texts (Chinese); ids shared with ../en/nav.ftl.

nav-my-code = 我的锡康码
nav-dashboard = 指挥部
nav-ranking = 红黑榜
nav-appeals = 申诉
nav-assistance = 协查
nav-passes = 出入证
nav-messages = 留言办理
nav-resumption = 复工备案
nav-responsibilities = 责任清单
nav-supplies = 保供
nav-quarterly = 季季评
nav-bulletin = 疫情通报
