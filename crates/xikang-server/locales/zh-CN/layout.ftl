# The layout texts (Chinese); ids shared with ../en/layout.ftl.

layout-main-menu = 主菜单
layout-log-out = 退出
layout-xikang = 锡康
layout-skip-to-content = 跳到正文
layout-back-to-the-start-page = 返回首页
layout-error = 出错了
