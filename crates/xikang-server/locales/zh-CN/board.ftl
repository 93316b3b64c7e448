# The board texts (Chinese); ids shared with ../en/board.ftl.

board-not-sure-the-city-routes-it = 不确定（由市级受理）
board-post-a-message = 我要留言
board-no-login-needed-do-not-write-your = 无需登录。请勿填写姓名、电话、身份证号码等个人信息：答复公开展示，号码会被遮盖。
board-category = 留言类别
board-district = 所在区
board-title = 标题
board-message = 留言内容
board-post-the-message = 提交留言
board-answered-messages = 已答复留言
board-replied = 答复
board-closed = {" "}· 已办结
board-pages = 分页
board-citizens-message-board = 民声留言板
board-posted = 留言已提交，编号 { $id }，已转 { $department } 办理，答复时限 { $due }。
