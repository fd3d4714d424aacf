import { loadTemplates } from '../templates.js';

/** `templates/mail/*.hbs`, compiled once for every kind of mail. */
export const mailTemplates = loadTemplates('mail');
