// Translations of the scripts' own texts: Django's JavaScript catalog (/jsi18n/, loaded by
// base.html before the modules) for the page's language; the French text as is without it.
// gettext("%(n)s demandes", { n: 3 }) fills named values (the name lets makemessages find the
// texts: manage.py makemessages -d djangojs).
export const gettext = (text, values) => {
  const translated = window.gettext ? window.gettext(text) : text;
  return values ? translated.replace(/%\((\w+)\)s/g, (_, name) => String(values[name])) : translated;
};
