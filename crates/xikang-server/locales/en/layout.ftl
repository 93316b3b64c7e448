# The layout texts (English); ids shared with ../zh-CN/layout.ftl.

layout-main-menu = Main menu
layout-log-out = Log out
layout-xikang = xikang
layout-skip-to-content = Skip to content
layout-back-to-the-start-page = Back to the start page
layout-error = Error
