// The shell: top bar, the page the location names (after its access guard), or the 404 page.
import { NotFoundPage } from "../pages/NotFoundPage";
import { loginPath, matchPath, safeNext, useLocation } from "../router";
import { Redirect } from "./Redirect";
import { ROUTES } from "./routes";
import { TopBar } from "./TopBar";
import { useUser } from "./useUser";

export function App() {
  const location = useLocation();
  const user = useUser();
  let page = <NotFoundPage />;
  let layout = "column";
  for (const route of ROUTES) {
    const params = matchPath(route.pattern, location.path);
    if (!params) continue;
    layout = route.layout ?? "column";
    if (route.access === "user" && !user) {
      page = <Redirect to={loginPath(location.path + window.location.search)} />;
    } else if (route.access === "guest" && user) {
      page = <Redirect to={safeNext(location.query.get("next"))} />;
    } else {
      page = <>{route.render(params, location.query)}</>;
    }
    break;
  }
  return (
    <div class={`app layout-${layout}`}>
      {/* The IDE has its own bar; narrow pages (account, invitations) offer log in / sign up
          themselves. */}
      {layout !== "full" && <TopBar user={user} path={location.path} guestLinks={layout !== "narrow"} />}
      <main class="app-main" id="main">
        {page}
      </main>
    </div>
  );
}
