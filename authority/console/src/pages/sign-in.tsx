/** Sign in: username and password, then the TOTP code when the authority asks for one. */
import { useEffect, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";
import { beginTotp, confirmTotp, signIn, signInNote, signOut, type TotpEnrollment } from "../api/session.js";
import { useAsync } from "../ui/async.js";
import { ErrorState, Loading } from "../ui/status.js";
import { TextField } from "../ui/forms.js";

/** The sign-in screen. */
export function SignIn({ expired }: { expired: boolean }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [totp, setTotp] = useState("");
  const [step, setStep] = useState<"password" | "totp">("password");
  const [message, setMessage] = useState<string | null>(expired ? "Your session has ended. Sign in again." : signInNote.value);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.querySelector<HTMLInputElement>(".sign-in-card input")?.focus();
  }, [step]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const r = await signIn(username.trim(), password, step === "totp" ? totp.trim() : null);
      if (!r.ok) {
        if (r.totpRequired) setStep("totp");
        setMessage(r.message);
      }
    } catch (err) {
      setMessage(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in" id="main">
      <form class="card sign-in-card" onSubmit={submit} aria-labelledby="sign-in-title">
        <p class="brand" aria-hidden="true">
          Cairn
        </p>
        <h1 id="sign-in-title">{step === "totp" ? "Two-factor authentication" : "Sign in to the console"}</h1>
        {step === "password" ? (
          <>
            <TextField label="Username" name="username" value={username} onInput={setUsername} required autoComplete="username" />
            <TextField label="Password" name="password" type="password" value={password} onInput={setPassword} required autoComplete="current-password" />
          </>
        ) : (
          <TextField
            label="Authentication code"
            name="totp"
            value={totp}
            onInput={setTotp}
            required
            autoComplete="one-time-code"
            inputMode="numeric"
            pattern="[0-9]{6}"
            hint="The six-digit code from your authenticator app."
          />
        )}
        {message && (
          <p class={step === "totp" && message.startsWith("Enter") ? "hint" : "form-error"} role="alert" data-testid="sign-in-message">
            {message}
          </p>
        )}
        <div class="actions">
          {step === "totp" && (
            <button
              type="button"
              class="btn"
              onClick={() => {
                setStep("password");
                setTotp("");
                setMessage(null);
              }}
            >
              Back
            </button>
          )}
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? "Signing in…" : step === "totp" ? "Verify" : "Sign in"}
          </button>
        </div>
      </form>
    </main>
  );
}

/** Two-factor enrollment, when the organization requires it and the user has none yet. */
export function TotpEnroll() {
  const enrollment = useAsync((): Promise<TotpEnrollment> => beginTotp(), []);
  const [code, setCode] = useState("");
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main class="sign-in" id="main">
      <form
        class="card sign-in-card"
        aria-labelledby="enroll-title"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          try {
            await confirmTotp(code.trim());
          } catch (err) {
            setMessage(errorMessage(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1 id="enroll-title">Set up two-factor authentication</h1>
        <p>Your organization requires a code from an authenticator app at every sign-in. Scan this code with the app, then enter the code it shows.</p>
        {enrollment.status === "error" ? (
          <ErrorState message={enrollment.error} onRetry={enrollment.reload} />
        ) : !enrollment.data ? (
          <Loading />
        ) : (
          <>
            <img src={enrollment.data.qrCodeDataUrl} alt="QR code to scan with your authenticator app" width={200} height={200} />
            <p class="hint">
              Or type this key: <code data-testid="totp-secret">{enrollment.data.secret}</code>
            </p>
          </>
        )}
        <TextField label="Authentication code" value={code} onInput={setCode} required autoComplete="one-time-code" inputMode="numeric" pattern="[0-9]{6}" />
        {message && (
          <p class="form-error" role="alert">
            {message}
          </p>
        )}
        <div class="actions">
          <button type="button" class="btn" onClick={() => void signOut()}>
            Sign out
          </button>
          <button type="submit" class="btn btn-primary" disabled={busy || !enrollment.data}>
            Turn on
          </button>
        </div>
      </form>
    </main>
  );
}
