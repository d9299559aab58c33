import { useState } from 'react';
import { ApiError, downloadUrl, fetchDownload, type Backup } from '../api';
import { getToken } from '../auth';

/**
 * Downloads a completed version as stored (the server checks its sha256 while streaming; a
 * tampered object is refused or its transfer fails). Signed in with a session cookie, the
 * browser streams it to disk itself; with an API token (held in this tab), it is fetched with
 * the token and handed over as a file.
 */
export function DownloadButton({ backup, describedBy }: { backup: Backup; describedBy?: string }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const href = downloadUrl(backup.id);
  const title = `Download the stored object${backup.encrypted ? ' (age-encrypted, as stored)' : ''}; SHA-256 ${backup.sha256 ?? '—'}`;
  if (!getToken()) {
    return (
      <a className="button download-link" href={href} download aria-describedby={describedBy} title={title}>
        Download
      </a>
    );
  }
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      const { blob, fileName } = await fetchDownload(backup.id);
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = fileName;
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span className="download">
      <button type="button" className="download-link" onClick={() => void run()} disabled={busy} aria-describedby={describedBy} title={title}>
        {busy ? 'Downloading…' : 'Download'}
      </button>
      {error ? (
        <span className="bad" role="alert">
          {error}
        </span>
      ) : null}
    </span>
  );
}
