# The board texts (English); ids shared with ../zh-CN/board.ftl.

board-not-sure-the-city-routes-it = Not sure (the city routes it)
board-post-a-message = Post a message
board-no-login-needed-do-not-write-your = No login needed. Do not write your name, phone or ID number: answers are public, and numbers are masked.
board-category = Category
board-district = District
board-title = Title
board-message = Message
board-post-the-message = Post the message
board-answered-messages = Answered messages
board-replied = replied
board-closed = {" "}· closed
board-pages = Pages
board-citizens-message-board = Citizens' message board
board-posted = Message { $id } posted; { $department } answers it by { $due }.
