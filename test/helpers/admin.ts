/**
 * A browser-like client for the admin pages: keeps cookies, reads CSRF tokens from the forms
 * it is shown, never follows redirects (tests look at them).
 */
export class AdminClient {
  private readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>): Promise<{ status: number; location: string | null; text: string; headers: Headers }> {
    const response = await fetch(this.baseUrl + path, {
      method,
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(form && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, value] = pair!.split('=');
      if (!value || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name!);
      else this.cookies.set(name!, value);
    }
    return { status: response.status, location: response.headers.get('location'), text: await response.text(), headers: response.headers };
  }

  get = (path: string) => this.request('GET', path);

  /** The CSRF token of the signed-in session, as every page's sign-out form carries it. */
  async csrf(): Promise<string> {
    const page = await this.get('/admin');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
    if (!token) throw new Error(`no CSRF token on the dashboard (status ${page.status})`);
    return token;
  }

  /** A POST as the page's form would send it; `csrf: false` leaves the token out. */
  async post(path: string, form: Record<string, string> = {}, options: { csrf?: boolean | string } = {}) {
    const token = options.csrf === false ? undefined : typeof options.csrf === 'string' ? options.csrf : await this.csrf();
    return this.request('POST', path, token === undefined ? form : { _csrf: token, ...form });
  }

  async signIn(email: string, password: string) {
    const page = await this.get('/admin/sign-in');
    const token = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    return this.request('POST', '/admin/sign-in', { _csrf: token, email, password, next: '/admin' });
  }
}
