"""Proven in a real browser (issue 16): JupyterLab and the demo's pages in Debian's Chromium,
driven by Playwright. lab.py starts JupyterLab and works its notebooks as a person does;
pages.py watches a page (console errors, requests leaving the machine) and writes the
screenshots a person looks at, under build/browser/."""
