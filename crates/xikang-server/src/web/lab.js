// Reads a picked results file into the text area, so the form posts it as text (no upload
// encoding on the server): <input type="file" data-into="ID">.
document.querySelectorAll("input[type=file][data-into]").forEach(function (input) {
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    var target = document.getElementById(input.dataset.into);
    if (!file || !target) return;
    var reader = new FileReader();
    reader.onload = function () { target.value = reader.result; };
    reader.readAsText(file);
  });
});
