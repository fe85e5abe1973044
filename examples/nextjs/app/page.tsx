export default function Home() {
  return <p>The Intercom webhook is served at /api/intercom.</p>
}
