// Progressive enhancement only: every page works without this file.
// "Copy" buttons copy the value of the input named by data-copy.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  if (!input) return;
  input.select();
  navigator.clipboard.writeText(input.value).then(
    () => { button.textContent = "Copied"; },
    () => { button.textContent = "Select and copy"; }
  );
});
