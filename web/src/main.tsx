import { render } from "preact";
import "./styles.css";

render(<p>collab</p>, document.getElementById("app")!);
