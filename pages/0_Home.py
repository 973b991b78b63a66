"""Home page: what each page teaches and how to use it. Imports no TensorFlow, so it appears at once.

The sections, titles and icons are app.py's navigation, so the menu and this page always agree.
"""

import streamlit as st

from app import NAVIGATION
from ui.common import demo_mode, demo_query_params
from ui.presenter import presenter_query_params

st.title("🧠 The machine-learning explainer")
LABS = sum(len(entries) for section, entries in NAVIGATION.items() if section)  # every page but Home
NUMBER_WORDS = {6: "Six", 7: "Seven", 8: "Eight", 9: "Nine", 10: "Ten"}
st.write(
    f"{NUMBER_WORDS.get(LABS, str(LABS))} small labs, each with a real model you can poke at. Every number on every "
    "page is computed live by the model it describes. Pick a page in the sidebar: **Explore** three trained models; "
    "**Build**: retrain one, read its files, fine-tune it with a vector database, or teach your own; **Together**: "
    "a class with pooled data and everyone's runs."
)
if demo_mode():
    st.info("Demo mode is on: random seeds are fixed and expert controls are hidden.", icon="🎓")

# page file → (what it teaches, how to use it)
ABOUT = {
    "pages/1_Colors.py": (
        "Pick a colour and watch a classifier's softmax over 9 colour families. Compare softmax with divide-by-sum and "
        "with a temperature, and see cross-entropy against the true family. Label colours yourself.",
        "Drag the colour picker or the R/G/B sliders; the bars update live.",
    ),
    "pages/2_Draw.py": (
        "Draw a shape and a CNN names it while you draw. See how the drawing becomes the 28×28 input and what the "
        "first convolution filters see.",
        "Draw on the canvas with the mouse; if it is wrong, tell it what it was and the drawing becomes a sample.",
    ),
    "pages/3_Text.py": (
        "A character-level LSTM trained on Shakespeare writes text one character at a time. See the next-character "
        "distribution at every step, and how temperature changes it.",
        "Type a seed, choose a temperature and length, press Generate, then step through the choices.",
    ),
    "pages/4_Retrain.py": (
        "Retrain any model with your own epochs, batch size and learning rate, and watch loss, accuracy per class "
        "and the confusion matrix under the hood.",
        "Choose a model and settings, press Train, then make the new version active for your session.",
    ),
    "pages/5_Inspect.py": (
        "Open a saved model.json and read its layers against the binary weights file, byte by byte.",
        "Choose a model or upload model.json + its .bin; click a tensor to see its bytes and values.",
    ),
    "pages/6_Vector_search.py": (
        "Fine-tune a linear classifier head by querying a vector database with the head's own weights, labelling "
        "what comes back on a −1…+1 scale, and repeating.",
        "Start from a few positives or an existing class, label the results, press Train step, repeat.",
    ),
    "pages/7_Teach.py": (
        "Teach a model your own classes, as in Teachable Machine: webcam pictures, sounds cut into one-second "
        "clips, or drawings. Train it, try it live, and see how the number and variety of samples change it.",
        "Choose image, sound or drawing, name your classes, add samples to each, press Train, then try a new one.",
    ),
    "pages/8_Class.py": (
        "Learn as a class: pool everyone's colour labels and drawings, retrain on the pool, and see every student's "
        "run side by side — the same recipe lands on different accuracies.",
        "The teacher opens a class and shows the code; students join with it and add their samples.",
    ),
}

for section, entries in NAVIGATION.items():
    if not section:  # the untitled section is this page
        continue
    st.subheader(section)
    for entry in entries:
        what, how = ABOUT[entry.path]
        with st.container(border=True):
            # the link carries ?demo=1 and ?present=1, so a page opened in a new tab (a new session) keeps them
            st.page_link(
                entry.path,
                label=entry.title,
                icon=entry.icon,
                query_params={**demo_query_params(), **presenter_query_params()},
            )
            st.write(what)
            st.caption(f"How to use it: {how}")

st.divider()
st.caption(
    "Add `?demo=1` to the address for demo mode in a class: it stays on as you move between pages. Everything here "
    "runs offline; your labels, drawings and retrained versions stay on this server, and other people's sessions "
    "never see your active models."
)
