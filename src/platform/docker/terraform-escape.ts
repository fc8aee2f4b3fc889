/** `${` and `%{` are Terraform template syntax in any string: plan texts and scripts carry them literally. */
export function escapeTerraform(text: string): string {
  return text.replace(/\$\{/g, () => '$${').replace(/%\{/g, () => '%%{');
}
